import java.util.Scanner;

public class TempConvert {
    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        String again = "y";
        while (again.equalsIgnoreCase("y")) {
            System.out.print("Enter a temperature followed by C or F (e.g. 21 C): ");
            double t = keyboard.nextDouble();
            char unit = keyboard.next().toUpperCase().charAt(0);
            if (unit == 'C') {
                double fahr = 1.8 * t + 32;
                System.out.println(t + " C = " + Math.round(fahr * 10) / 10.0 + " F");
            } else if (unit == 'F') {
                double cels = (t - 32) / 1.8;
                System.out.println(t + " F = " + Math.round(cels * 10) / 10.0 + " C");
            } else {
                System.out.println("Unit must be C or F");
            }
            System.out.print("Another one? (y/n) ");
            again = keyboard.next();
        }
        System.out.println("Table of every 10 degrees C:");
        for (int c = -20; c <= 40; c = c + 10)
            System.out.println(c + "\t" + (1.8 * c + 32));
    }
}
