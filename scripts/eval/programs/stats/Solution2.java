import java.util.Scanner;

public class Stats {
    private int n;
    private double mean, m2;
    private double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;

    // Welford's running mean and variance
    public void push(double x) {
        n++;
        double delta = x - mean;
        mean += delta / n;
        m2 += delta * (x - mean);
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
    }

    public double variance() {
        return n > 1 ? m2 / (n - 1) : 0.0;
    }

    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        Stats s = new Stats();
        System.out.print("values separated by spaces, then Ctrl-D: ");
        while (sc.hasNextDouble()) {
            s.push(sc.nextDouble());
        }
        if (s.n == 0) {
            System.out.println("nothing to do");
            System.exit(1);
        }
        System.out.println("n        = " + s.n);
        System.out.println("mean     = " + s.mean);
        System.out.println("variance = " + s.variance());
        System.out.println("stddev   = " + Math.sqrt(s.variance()));
        System.out.println("range    = [" + s.lo + ", " + s.hi + "]");
    }
}
