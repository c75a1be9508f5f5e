import java.util.Scanner;

public class DigitAdder {

    /* recursive version: sum of digits of n = last digit + sum of the rest */
    static long digitSum(long n) {
        if (n < 10) {
            return n;
        }
        return n % 10 + digitSum(n / 10);
    }

    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("Enter a number: ");
        long n = Math.abs(in.nextLong());
        System.out.println("Sum of digits: " + digitSum(n));
    }
}
