import java.util.Scanner;

/** Sieve of Eratosthenes: prints the primes up to a limit. */
public class PrimeSieve {

    public static boolean[] sieve(int limit) {
        boolean[] composite = new boolean[limit + 1];
        composite[0] = true;
        if (limit >= 1) {
            composite[1] = true;
        }
        for (int p = 2; (long) p * p <= limit; p++) {
            if (!composite[p]) {
                for (int multiple = p * p; multiple <= limit; multiple += p) {
                    composite[multiple] = true;
                }
            }
        }
        return composite;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Print primes up to: ");
        int limit = input.nextInt();
        if (limit < 2) {
            System.out.println("There are no primes below 2.");
            return;
        }
        boolean[] composite = sieve(limit);
        int count = 0;
        long sum = 0;
        int largestGap = 0;
        int previous = 2;
        for (int i = 2; i <= limit; i++) {
            if (!composite[i]) {
                count++;
                sum += i;
                if (i - previous > largestGap) {
                    largestGap = i - previous;
                }
                previous = i;
                System.out.printf("%8d", i);
                if (count % 10 == 0) {
                    System.out.println();
                }
            }
        }
        System.out.println();
        System.out.println("There are " + count + " primes up to " + limit + ".");
        System.out.println("Their sum is " + sum + ", the largest gap is " + largestGap + ".");
        input.close();
    }
}
