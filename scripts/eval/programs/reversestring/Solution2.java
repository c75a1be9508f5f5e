import java.util.Scanner;

public class Reverse {
    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        System.out.print("Enter a string: ");
        String str = sc.nextLine();
        String rev = new StringBuilder(str).reverse().toString();
        System.out.println("Reversed: " + rev);
        if (str.toLowerCase().equals(rev.toLowerCase()))
            System.out.println("It is a palindrome");
        else
            System.out.println("It is not a palindrome");
    }
}
