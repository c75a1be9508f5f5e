import java.text.DecimalFormat;
import java.util.Scanner;

/*
 * Program: CircleInfo
 * Reads a radius and shows area and circumference with 2 decimals.
 */
public class CircleInfo {

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        DecimalFormat twoDecimals = new DecimalFormat("0.00");

        System.out.print("Enter the radius: ");
        double rad = keyboard.nextDouble();
        keyboard.close();

        // a circle can't have a negative radius
        if (rad < 0) {
            System.out.println("Radius cannot be negative.");
            System.exit(1);
        }

        double a = Math.PI * rad * rad;   // pi r^2
        double c = 2.0 * Math.PI * rad;   // 2 pi r

        System.out.println("Area: " + twoDecimals.format(a));
        System.out.println("Circumference: " + twoDecimals.format(c));
    }
}
