import java.util.Scanner;

/*
 * Finds the maximum of an array.
 * First loop finds the max value, second loop finds where it is.
 */
public class ArrayMax {

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        System.out.print("How many numbers? ");
        int n = keyboard.nextInt();

        if (n <= 0) {
            System.out.println("Invalid size.");
            System.exit(0);
        }

        int[] nums = new int[n];
        for (int k = 0; k < n; k++) {
            System.out.print("Enter number " + (k + 1) + ": ");
            nums[k] = keyboard.nextInt();
        }

        int biggest = nums[0];
        for (int x : nums) {
            if (x > biggest) {
                biggest = x;
            }
        }

        int where = 0;
        for (int k = 0; k < n; k++) {
            if (nums[k] == biggest) {
                where = k + 1;
                break;   // only want the first one
            }
        }

        System.out.println("The largest number is " + biggest + " at position " + where);
    }
}
