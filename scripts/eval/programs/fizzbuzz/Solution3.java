import java.util.Scanner;

public class FizzBuzzLab {
    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);

        System.out.print("Enter a number: ");
        int num = scan.nextInt();

        // check input first
        if (num <= 0) {
            System.out.println("Please enter a positive number.");
            System.exit(0);
        }

        int i = 1;
        while (i <= num) {
            // both has to be checked first otherwise it would just print Fizz
            if (i % 3 == 0 && i % 5 == 0) {
                System.out.println("FizzBuzz");
            }
            else if (i % 5 == 0) {
                System.out.println("Buzz");
            }
            else if (i % 3 == 0) {
                System.out.println("Fizz");
            }
            else {
                System.out.println(i);
            }
            i++;
        }
    }
}
