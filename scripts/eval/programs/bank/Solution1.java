import java.util.ArrayList;
import java.util.Scanner;

public class BankSimulation {

    static class Account {
        private final String owner;
        private double balance;
        private final ArrayList<String> history = new ArrayList<>();

        Account(String owner, double initialDeposit) {
            this.owner = owner;
            this.balance = initialDeposit;
            history.add("open " + initialDeposit);
        }

        void deposit(double amount) {
            if (amount <= 0) {
                System.out.println("Deposit must be positive.");
                return;
            }
            balance += amount;
            history.add("deposit " + amount);
        }

        boolean withdraw(double amount) {
            if (amount > balance) {
                System.out.println("Insufficient funds: balance is " + balance);
                return false;
            }
            balance -= amount;
            history.add("withdraw " + amount);
            return true;
        }

        void addInterest(double rate) {
            double interest = balance * rate / 100.0;
            balance += interest;
            history.add("interest " + interest);
        }

        double getBalance() {
            return balance;
        }

        String getOwner() {
            return owner;
        }
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Account holder name: ");
        String name = input.nextLine();
        System.out.print("Initial deposit: ");
        double start = input.nextDouble();
        Account account = new Account(name, start);
        int choice = 0;
        while (choice != 5) {
            System.out.println("1) Deposit 2) Withdraw 3) Interest 4) Balance 5) Quit");
            choice = input.nextInt();
            switch (choice) {
                case 1:
                    System.out.print("Amount: ");
                    account.deposit(input.nextDouble());
                    break;
                case 2:
                    System.out.print("Amount: ");
                    account.withdraw(input.nextDouble());
                    break;
                case 3:
                    System.out.print("Rate in percent: ");
                    account.addInterest(input.nextDouble());
                    break;
                case 4:
                    System.out.printf("%s has $%.2f%n", account.getOwner(), account.getBalance());
                    break;
                case 5:
                    System.out.println("Goodbye.");
                    break;
                default:
                    System.out.println("Unknown option " + choice);
            }
        }
        for (String entry : account.history) {
            System.out.println(entry);
        }
        input.close();
    }
}
