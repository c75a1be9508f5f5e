import java.util.Scanner;

public class Lab4 {
    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.print("Enter a number: ");
        int n = sc.nextInt();
        if (n < 1) {
            System.out.println("Please enter a positive number.");
        } else {
            for (int i = 1; i <= n; i++) {
                String s = "";
                if (i % 3 == 0) s += "Fizz";
                if (i % 5 == 0) s += "Buzz";
                if (s.isEmpty()) s = String.valueOf(i);
                System.out.println(s);
            }
        }
    }
}
