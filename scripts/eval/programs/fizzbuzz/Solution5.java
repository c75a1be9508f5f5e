import java.util.Scanner;

public class FizzBuzzGame {

    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int n = in.nextInt();

        if (n >= 1) {
            for (int i = 1; i <= n; i++) {
                boolean divBy3 = (i % 3 == 0);
                boolean divBy5 = (i % 5 == 0);

                if (divBy3 && divBy5)
                    System.out.println("FizzBuzz");
                else if (divBy3)
                    System.out.println("Fizz");
                else if (divBy5)
                    System.out.println("Buzz");
                else
                    System.out.println(i);
            }
        } else {
            System.out.println("Please enter a positive number.");
        }
    }
}
