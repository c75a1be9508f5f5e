import java.util.Scanner;

/*
 * Prime number checker
 * - numbers below 2 are not prime
 * - 2 is the only even prime
 * - otherwise try odd divisors up to sqrt(n)
 */
public class PrimeTester {

    static boolean checkPrime(long n) {
        if (n < 2) return false;
        if (n == 2) return true;
        if (n % 2 == 0) return false;

        long limit = (long) Math.sqrt(n);
        long divisor = 3;
        while (divisor <= limit) {
            if (n % divisor == 0) {
                return false;
            }
            divisor += 2;
        }
        return true;
    }

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        System.out.print("Enter a number: ");
        long value = keyboard.nextLong();

        String result = checkPrime(value) ? " is prime" : " is not prime";
        System.out.println(value + result);
    }
}
