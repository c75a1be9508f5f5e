import java.util.ArrayList;
import java.util.Collections;
import java.util.Scanner;

// I used an ArrayList so I can use Collections.max and indexOf
public class FindMax {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("How many numbers? ");
        int n = in.nextInt();
        if (n < 1) {
            System.out.println("Invalid size.");
            return;
        }

        ArrayList<Integer> list = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            System.out.print("Enter number " + i + ": ");
            list.add(in.nextInt());
        }

        int max = Collections.max(list);
        int position = list.indexOf(max) + 1;
        System.out.println("The largest number is " + max + " at position " + position);
    }
}
