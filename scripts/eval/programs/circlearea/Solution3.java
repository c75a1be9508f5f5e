import java.util.Scanner;

// Circle area and circumference
public class Lab1Circle {

    static final double PI = 3.14159;

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);

        System.out.print("Enter the radius: ");
        double radius = scan.nextDouble();

        if (radius >= 0) {
            double diameter = 2 * radius;
            double area = PI * radius * radius;
            double circumference = PI * diameter;

            System.out.printf("Area: %.2f\n", area);
            System.out.printf("Circumference: %.2f\n", circumference);
        }
        else {
            System.out.println("Radius cannot be negative.");
        }
    }
}
