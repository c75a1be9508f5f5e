public class Converter {
    enum Scale { C, F, K }

    static double convert(double value, Scale from, Scale to) {
        double c;
        switch (from) {
            case F: c = (value - 32) * 5 / 9; break;
            case K: c = value - 273.15; break;
            default: c = value;
        }
        switch (to) {
            case F: return c * 9 / 5 + 32;
            case K: return c + 273.15;
            default: return c;
        }
    }

    public static void main(String[] args) {
        double lo = args.length > 0 ? Double.parseDouble(args[0]) : -40;
        double hi = args.length > 1 ? Double.parseDouble(args[1]) : 100;
        StringBuilder out = new StringBuilder(String.format("%8s|%8s|%8s%n", "F", "C", "K"));
        double f = lo;
        do {
            out.append(String.format("%8.1f|%8.1f|%8.1f%n", f, convert(f, Scale.F, Scale.C),
                    convert(f, Scale.F, Scale.K)));
            f += 20;
        } while (f <= hi);
        System.out.print(out);
    }
}
