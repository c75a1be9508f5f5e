import java.util.Scanner;

public class CircleCalc {
    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.print("Enter the radius: ");
        double r = sc.nextDouble();
        if (r < 0) {
            System.out.println("Radius cannot be negative.");
            return;
        }
        double area = Math.PI * Math.pow(r, 2);
        double circ = 2 * Math.PI * r;
        System.out.println("Area: " + String.format("%.2f", area));
        System.out.println("Circumference: " + String.format("%.2f", circ));
    }
}
