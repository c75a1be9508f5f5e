import java.util.HashMap;
import java.util.Scanner;

public class Bank {
    private HashMap<Integer, Double> accounts = new HashMap<>();
    private int nextNumber = 1001;

    public int open(double amount) {
        int number = nextNumber++;
        accounts.put(number, amount);
        return number;
    }

    public void transfer(int from, int to, double amount) throws Exception {
        if (!accounts.containsKey(from) || !accounts.containsKey(to)) {
            throw new Exception("no such account");
        }
        if (accounts.get(from) < amount) {
            throw new Exception("not enough money in " + from);
        }
        accounts.put(from, accounts.get(from) - amount);
        accounts.put(to, accounts.get(to) + amount);
    }

    public void report() {
        double total = 0;
        for (int number : accounts.keySet()) {
            System.out.println("Account " + number + ": " + accounts.get(number));
            total += accounts.get(number);
        }
        System.out.println("Bank holds " + total);
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        Bank bank = new Bank();
        System.out.print("How many accounts to open? ");
        int count = input.nextInt();
        for (int i = 0; i < count; i++) {
            System.out.print("Opening amount for account " + (i + 1) + ": ");
            int no = bank.open(input.nextDouble());
            System.out.println("Opened account " + no);
        }
        System.out.print("Transfer from, to, amount (0 to stop): ");
        int from = input.nextInt();
        while (from != 0) {
            int to = input.nextInt();
            double amount = input.nextDouble();
            try {
                bank.transfer(from, to, amount);
            } catch (Exception e) {
                System.out.println("Error: " + e.getMessage());
            }
            System.out.print("Transfer from, to, amount (0 to stop): ");
            from = input.nextInt();
        }
        bank.report();
    }
}
