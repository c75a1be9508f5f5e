import java.util.Scanner;

/** Prints a Celsius to Fahrenheit (and Kelvin) conversion table. */
public class TemperatureTable {

    public static double toFahrenheit(double celsius) {
        return celsius * 9.0 / 5.0 + 32.0;
    }

    public static double toKelvin(double celsius) {
        return celsius + 273.15;
    }

    public static String describe(double celsius) {
        if (celsius <= 0) {
            return "freezing";
        } else if (celsius < 15) {
            return "cold";
        } else if (celsius < 25) {
            return "mild";
        } else {
            return "hot";
        }
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Start temperature (C): ");
        int start = input.nextInt();
        System.out.print("End temperature (C): ");
        int end = input.nextInt();
        System.out.print("Step: ");
        int step = input.nextInt();
        if (step <= 0) {
            System.out.println("The step must be positive.");
            return;
        }

        System.out.println("Celsius   Fahrenheit   Kelvin   Feels");
        System.out.println("--------------------------------------");
        int rows = 0;
        for (int c = start; c <= end; c += step) {
            double f = toFahrenheit(c);
            double k = toKelvin(c);
            System.out.printf("%7d   %10.1f   %6.2f   %s%n", c, f, k, describe(c));
            rows++;
        }
        System.out.println(rows + " rows printed.");
        input.close();
    }
}
