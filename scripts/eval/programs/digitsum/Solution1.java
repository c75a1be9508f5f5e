import java.util.Scanner;

/**
 * Lab 3: reads an integer and prints the sum of its digits.
 * Negative numbers are treated as their absolute value.
 */
public class DigitSum {

    // returns the sum of the digits of n (n must be >= 0)
    public static int sumDigits(int n) {
        int sum = 0;
        while (n > 0) {
            int digit = n % 10;   // last digit
            sum = sum + digit;
            n = n / 10;           // drop the last digit
        }
        return sum;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);

        System.out.print("Enter a number: ");
        int number = input.nextInt();

        if (number < 0) {
            number = Math.abs(number);
        }

        int result = sumDigits(number);
        System.out.println("Sum of digits: " + result);

        input.close();
    }
}
