import java.util.Scanner;

public class Lab3Factorial {
    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int number = scan.nextInt();

        if (number < 0) {
            System.out.println("Factorial is not defined for negative numbers.");
            return;
        }

        // multiply number * (number-1) * ... * 1
        long product = 1;
        int k = number;
        while (k > 1) {
            product = product * k;
            k--;
        }
        System.out.println(number + "! = " + product);
    }
}
