import java.util.BitSet;
import java.util.Scanner;

public class SieveBits {
    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.println("Enter lower and upper bound:");
        int from = sc.nextInt(), to = sc.nextInt();
        BitSet notPrime = new BitSet(to + 1);
        notPrime.set(0);
        notPrime.set(1);
        int i = 2;
        while (i * i <= to) {
            if (!notPrime.get(i)) {
                int j = i * i;
                while (j <= to) {
                    notPrime.set(j);
                    j += i;
                }
            }
            i++;
        }
        int shown = 0;
        for (int k = notPrime.nextClearBit(Math.max(from, 0)); k <= to; k = notPrime.nextClearBit(k + 1)) {
            System.out.print(k + (++shown % 8 == 0 ? "\n" : ", "));
        }
        System.out.println("\n" + shown + " primes between " + from + " and " + to);
    }
}
