import java.util.Scanner;

/**
 * Lab 6: reverses a line of text and checks whether it is a palindrome.
 */
public class ReverseString {

    public static String reverse(String text) {
        String reversed = "";
        for (int i = text.length() - 1; i >= 0; i--) {
            reversed = reversed + text.charAt(i);
        }
        return reversed;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);

        System.out.print("Enter a string: ");
        String text = input.nextLine();

        String reversed = reverse(text);
        System.out.println("Reversed: " + reversed);

        // palindrome check ignores case
        if (text.equalsIgnoreCase(reversed)) {
            System.out.println("It is a palindrome");
        } else {
            System.out.println("It is not a palindrome");
        }

        input.close();
    }
}
