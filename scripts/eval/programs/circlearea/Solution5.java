import java.util.Scanner;

public class Main {

    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("Enter the radius: ");
        double r = in.nextDouble();

        if (r < 0) {
            System.out.println("Radius cannot be negative.");
        } else {
            double area = Math.PI * r * r;
            double perimeter = Math.PI * (r + r);
            // one printf for both lines
            System.out.printf("Area: %.2f%nCircumference: %.2f%n", area, perimeter);
        }
    }
}
