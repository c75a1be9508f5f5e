import java.util.Scanner;

/*
 * FizzBuzz assignment.
 * I used a helper method that returns what should be printed for one number.
 */
public class FizzBuzzPrinter {

    public static String convert(int x) {
        if (x % 15 == 0) {
            return "FizzBuzz";
        }
        if (x % 3 == 0) {
            return "Fizz";
        }
        if (x % 5 == 0) {
            return "Buzz";
        }
        return Integer.toString(x);
    }

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int limit = keyboard.nextInt();
        keyboard.close();

        if (limit < 1) {
            System.out.println("Please enter a positive number.");
            return;
        }

        StringBuilder output = new StringBuilder();
        for (int k = 1; k <= limit; k++) {
            output.append(convert(k)).append("\n");
        }
        System.out.print(output);
    }
}
