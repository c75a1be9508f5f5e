import java.util.Scanner;

// Sum of digits - reads the number as text and adds up each digit character
public class Lab3Digits {

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);
        System.out.print("Enter a number: ");
        String s = scan.next().trim();

        int total = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '-') {
                continue; // ignore the minus sign
            }
            if (!Character.isDigit(c)) {
                System.out.println("That is not a valid integer.");
                return;
            }
            total += c - '0';
        }

        System.out.println("Sum of digits: " + total);
        scan.close();
    }
}
