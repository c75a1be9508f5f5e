import java.util.ArrayList;
import java.util.List;

public class Primes {
    private static boolean isPrime(int n) {
        if (n < 2) return false;
        if (n % 2 == 0) return n == 2;
        for (int d = 3; d * d <= n; d += 2) {
            if (n % d == 0) return false;
        }
        return true;
    }

    public static List<Integer> firstN(int howMany) {
        List<Integer> primes = new ArrayList<>();
        int candidate = 2;
        while (primes.size() < howMany) {
            if (isPrime(candidate)) primes.add(candidate);
            candidate++;
        }
        return primes;
    }

    public static void main(String[] args) {
        int n = args.length == 1 ? Integer.parseInt(args[0]) : 25;
        List<Integer> ps = firstN(n);
        System.out.println("The first " + n + " primes: " + ps);
        int twins = 0;
        for (int i = 1; i < ps.size(); i++) {
            if (ps.get(i) - ps.get(i - 1) == 2) twins++;
        }
        System.out.println("twin pairs among them: " + twins);
    }
}
