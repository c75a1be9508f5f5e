import java.util.Scanner;

/**
 * Lab 3: computes n! for a number entered by the user.
 */
public class Factorial {

    public static long factorial(int n) {
        long result = 1;
        for (int i = 2; i <= n; i++) {
            result *= i;
        }
        return result;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);

        System.out.print("Enter a number: ");
        int n = input.nextInt();

        if (n < 0) {
            System.out.println("Factorial is not defined for negative numbers.");
        } else {
            long fact = factorial(n);
            System.out.println(n + "! = " + fact);
        }

        input.close();
    }
}
