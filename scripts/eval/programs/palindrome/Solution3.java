import java.util.HashMap;
import java.util.Map;
import java.util.Scanner;

public class StringLab {
    public static String reverse(String word) {
        String result = "";
        for (int i = word.length() - 1; i >= 0; i--) {
            result = result + word.charAt(i);
        }
        return result;
    }

    public static Map<Character, Integer> letterCounts(String word) {
        Map<Character, Integer> counts = new HashMap<>();
        for (char c : word.replace(" ", "").toLowerCase().toCharArray()) {
            counts.merge(c, 1, Integer::sum);
        }
        return counts;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.println("Menu: 1 = palindrome test, 2 = anagram test");
        int option = input.nextInt();
        input.nextLine();
        if (option == 1) {
            System.out.print("Word: ");
            String word = input.nextLine().trim().toLowerCase();
            String backwards = reverse(word);
            System.out.println("Reversed: " + backwards);
            System.out.println(word.equals(backwards) ? "Palindrome!" : "Not a palindrome");
        } else if (option == 2) {
            System.out.print("Word one: ");
            String one = input.nextLine();
            System.out.print("Word two: ");
            String two = input.nextLine();
            boolean same = letterCounts(one).equals(letterCounts(two));
            System.out.println(same ? "Anagrams" : "Not anagrams");
        } else {
            System.out.println("Invalid option");
        }
    }
}
