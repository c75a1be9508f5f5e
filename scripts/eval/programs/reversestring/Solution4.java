import java.util.Scanner;

/*
 * Lab 6 - reverse a string (recursive)
 * reverse("abc") = reverse("bc") + 'a'
 */
public class Lab6 {

    static String rev(String s) {
        if (s.length() <= 1) {
            return s;
        }
        return rev(s.substring(1)) + s.charAt(0);
    }

    static boolean isPalindrome(String s) {
        String lower = s.toLowerCase();
        return lower.equals(rev(lower));
    }

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        System.out.print("Enter a string: ");
        String word = keyboard.nextLine();
        keyboard.close();

        System.out.println("Reversed: " + rev(word));
        System.out.println(isPalindrome(word) ? "It is a palindrome" : "It is not a palindrome");
    }
}
