import java.util.Arrays;
import java.util.Scanner;

/** Checks whether phrases are palindromes and whether two words are anagrams. */
public class WordChecks {

    public static String normalize(String text) {
        StringBuilder letters = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (Character.isLetterOrDigit(ch)) {
                letters.append(Character.toLowerCase(ch));
            }
        }
        return letters.toString();
    }

    public static boolean isPalindrome(String text) {
        String s = normalize(text);
        int left = 0;
        int right = s.length() - 1;
        while (left < right) {
            if (s.charAt(left) != s.charAt(right)) {
                return false;
            }
            left++;
            right--;
        }
        return true;
    }

    public static boolean areAnagrams(String first, String second) {
        char[] a = normalize(first).toCharArray();
        char[] b = normalize(second).toCharArray();
        if (a.length != b.length) {
            return false;
        }
        Arrays.sort(a);
        Arrays.sort(b);
        return Arrays.equals(a, b);
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Enter a phrase: ");
        String phrase = input.nextLine();
        if (isPalindrome(phrase)) {
            System.out.println("\"" + phrase + "\" is a palindrome.");
        } else {
            System.out.println("\"" + phrase + "\" is not a palindrome.");
        }

        System.out.print("Enter the first word: ");
        String first = input.nextLine();
        System.out.print("Enter the second word: ");
        String second = input.nextLine();
        if (areAnagrams(first, second)) {
            System.out.println(first + " and " + second + " are anagrams.");
        } else {
            System.out.println(first + " and " + second + " are not anagrams.");
        }
        input.close();
    }
}
