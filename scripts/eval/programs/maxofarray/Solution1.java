import java.util.Scanner;

/**
 * Lab 5: reads n integers into an array and finds the largest one.
 */
public class MaxOfArray {

    // returns the index of the largest element (first one if there is a tie)
    public static int indexOfMax(int[] numbers) {
        int maxIndex = 0;
        for (int i = 1; i < numbers.length; i++) {
            if (numbers[i] > numbers[maxIndex]) {
                maxIndex = i;
            }
        }
        return maxIndex;
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);

        System.out.print("How many numbers? ");
        int n = input.nextInt();
        if (n < 1) {
            System.out.println("Invalid size.");
            return;
        }

        int[] numbers = new int[n];
        for (int i = 0; i < n; i++) {
            System.out.print("Enter number " + (i + 1) + ": ");
            numbers[i] = input.nextInt();
        }

        int index = indexOfMax(numbers);
        System.out.println("The largest number is " + numbers[index] + " at position " + (index + 1));
        input.close();
    }
}
