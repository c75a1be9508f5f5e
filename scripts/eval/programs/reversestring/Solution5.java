import java.util.Scanner;

public class ReverseText {

    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("Enter a string: ");
        String s = in.nextLine();

        String backwards = "";
        for (int i = 0; i < s.length(); i++) {
            backwards = s.charAt(i) + backwards;   // put each char in front
        }
        System.out.println("Reversed: " + backwards);

        String msg = "It is not a palindrome";
        if (backwards.equalsIgnoreCase(s)) {
            msg = "It is a palindrome";
        }
        System.out.println(msg);
    }
}
