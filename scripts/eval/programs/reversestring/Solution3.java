import java.util.Scanner;

// Reverse a string by swapping characters from both ends of a char array
public class StringReverser {

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);
        System.out.print("Enter a string: ");
        String line = scan.nextLine();

        char[] chars = line.toCharArray();
        int left = 0;
        int right = chars.length - 1;
        while (left < right) {
            char tmp = chars[left];
            chars[left] = chars[right];
            chars[right] = tmp;
            left++;
            right--;
        }
        String reversed = new String(chars);
        System.out.println("Reversed: " + reversed);

        // compare character by character, ignoring case
        boolean palindrome = true;
        for (int i = 0; i < line.length(); i++) {
            if (Character.toLowerCase(line.charAt(i)) != Character.toLowerCase(reversed.charAt(i))) {
                palindrome = false;
                break;
            }
        }

        if (palindrome) {
            System.out.println("It is a palindrome");
        } else {
            System.out.println("It is not a palindrome");
        }
    }
}
