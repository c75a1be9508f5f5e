import java.util.Scanner;

/*
 * Name: CS1 Lab 3
 * Program asks for a whole number and prints the sum of its digits.
 */
public class SumDigits {

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        int n;

        // keep asking until we actually get an integer
        System.out.print("Enter a number: ");
        while (!keyboard.hasNextInt()) {
            keyboard.next(); // throw away bad input
            System.out.println("Please enter a whole number.");
            System.out.print("Enter a number: ");
        }
        n = keyboard.nextInt();

        if (n < 0) {
            n = n * -1;
        }

        int sum = 0;
        for (int temp = n; temp > 0; temp = temp / 10) {
            sum = sum + temp % 10;
        }

        System.out.println("Sum of digits: " + sum);
    }
}
