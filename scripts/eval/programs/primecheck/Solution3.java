import java.util.Scanner;

public class IsItPrime {

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int number = scan.nextInt();

        boolean prime = true;
        if (number <= 1) {
            prime = false;
        } else {
            for (int d = 2; d <= number / 2; d++) {
                if (number % d == 0) {
                    prime = false;
                    break;
                }
            }
        }

        if (prime)
            System.out.println(number + " is prime");
        else
            System.out.println(number + " is not prime");
        scan.close();
    }
}
