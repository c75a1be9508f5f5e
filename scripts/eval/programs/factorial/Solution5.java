import java.util.Scanner;

// Factorial program - checks the input range before computing
public class FactorialCalc {

    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        int n;

        while (true) {
            System.out.print("Enter a number: ");
            n = in.nextInt();
            if (n > 20) {
                // 21! does not fit in a long
                System.out.println("Number too big, please enter 20 or less.");
            } else {
                break;
            }
        }

        if (n < 0) {
            System.out.println("Factorial is not defined for negative numbers.");
        } else {
            long f = 1;
            for (int i = n; i > 0; i--) {
                f *= i;
            }
            System.out.println(n + "! = " + f);
        }
    }
}
