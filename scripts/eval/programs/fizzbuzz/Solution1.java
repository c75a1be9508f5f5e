import java.util.Scanner;

/**
 * FizzBuzz: prints 1..n replacing multiples of 3 with Fizz,
 * multiples of 5 with Buzz and multiples of both with FizzBuzz.
 */
public class FizzBuzz {

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int n = input.nextInt();

        if (n < 1) {
            System.out.println("Please enter a positive number.");
            return;
        }

        for (int i = 1; i <= n; i++) {
            if (i % 15 == 0) {
                System.out.println("FizzBuzz");
            } else if (i % 3 == 0) {
                System.out.println("Fizz");
            } else if (i % 5 == 0) {
                System.out.println("Buzz");
            } else {
                System.out.println(i);
            }
        }
        input.close();
    }
}
