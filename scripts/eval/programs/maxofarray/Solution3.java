import java.util.Scanner;

public class Lab5 {

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);

        System.out.print("How many numbers? ");
        int size = scan.nextInt();

        if (size >= 1) {
            int[] values = new int[size];

            // read the values
            int count = 0;
            while (count < size) {
                System.out.print("Enter number " + (count + 1) + ": ");
                values[count] = scan.nextInt();
                count++;
            }

            // find the biggest, start with the smallest possible int
            int largest = Integer.MIN_VALUE;
            int position = -1;
            int j = 0;
            while (j < size) {
                if (values[j] > largest) {
                    largest = values[j];
                    position = j + 1;
                }
                j++;
            }

            System.out.println("The largest number is " + largest + " at position " + position);
        } else {
            System.out.println("Invalid size.");
        }
        scan.close();
    }
}
