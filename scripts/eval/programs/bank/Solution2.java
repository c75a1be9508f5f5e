import java.util.Scanner;

public class ATM {
    static long cents = 0;
    static int transactions = 0;

    static long parseAmount(String s) {
        String[] parts = s.trim().split("\\.");
        long whole = Long.parseLong(parts[0]) * 100;
        if (parts.length > 1) {
            String frac = (parts[1] + "00").substring(0, 2);
            whole += Long.parseLong(frac);
        }
        return whole;
    }

    static String format(long c) {
        return String.format("%d.%02d", c / 100, c % 100);
    }

    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.println("Commands: d <amount>, w <amount>, b, q");
        boolean running = true;
        while (running && sc.hasNext()) {
            String cmd = sc.next();
            if (cmd.equals("d")) {
                cents += parseAmount(sc.next());
                transactions++;
            } else if (cmd.equals("w")) {
                long amt = parseAmount(sc.next());
                if (amt <= cents) {
                    cents -= amt;
                    transactions++;
                } else {
                    System.out.println("Denied, you only have " + format(cents));
                }
            } else if (cmd.equals("b")) {
                System.out.println("Balance: " + format(cents));
            } else if (cmd.equals("q")) {
                running = false;
            } else {
                System.out.println("?");
            }
        }
        System.out.println(transactions + " transactions, final balance " + format(cents));
    }
}
