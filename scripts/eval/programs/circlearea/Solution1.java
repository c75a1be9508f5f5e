import java.util.Scanner;

/**
 * Lab 1: area and circumference of a circle.
 */
public class Circle {

    public static double area(double radius) {
        return Math.PI * radius * radius;
    }

    public static double circumference(double radius) {
        return 2 * Math.PI * radius;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);

        System.out.print("Enter the radius: ");
        double radius = input.nextDouble();

        if (radius < 0) {
            System.out.println("Radius cannot be negative.");
        } else {
            System.out.printf("Area: %.2f%n", area(radius));
            System.out.printf("Circumference: %.2f%n", circumference(radius));
        }

        input.close();
    }
}
