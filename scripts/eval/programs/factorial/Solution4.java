import java.math.BigInteger;
import java.util.Scanner;

/*
 * Factorial using BigInteger so it also works for numbers bigger than 20
 * (long overflows after 20!).
 */
public class BigFactorial {

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int n = keyboard.nextInt();
        keyboard.close();

        if (n < 0) {
            System.out.println("Factorial is not defined for negative numbers.");
            System.exit(0);
        }

        BigInteger answer = BigInteger.ONE;
        for (int i = 1; i <= n; i++) {
            answer = answer.multiply(BigInteger.valueOf(i));
        }
        System.out.println(n + "! = " + answer);
    }
}
