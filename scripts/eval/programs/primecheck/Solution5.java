import java.util.Scanner;

public class Lab4Prime {

    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int n = in.nextInt();

        if (n < 2) {
            System.out.println(n + " is not prime");
            return;
        }

        int i = 2;
        while (i < n && n % i != 0) {
            i++;
        }
        // if we got all the way to n without finding a divisor it is prime
        if (i == n) {
            System.out.println(n + " is prime");
        } else {
            System.out.println(n + " is not prime");
        }
    }
}
