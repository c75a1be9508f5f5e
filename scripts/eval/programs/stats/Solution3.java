import java.util.Arrays;
import java.util.Scanner;

public class Assignment3 {
    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("How many scores will you enter? ");
        int count = input.nextInt();
        int[] scores = new int[count];
        int total = 0;
        for (int i = 0; i < count; i++) {
            System.out.print("Score #" + (i + 1) + ": ");
            scores[i] = input.nextInt();
            total = total + scores[i];
        }
        Arrays.sort(scores);
        double average = (double) total / count;
        int aboveAverage = 0;
        for (int i = 0; i < count; i++) {
            if (scores[i] > average) aboveAverage++;
        }
        int mode = scores[0], modeCount = 1, run = 1;
        for (int i = 1; i < count; i++) {
            run = scores[i] == scores[i - 1] ? run + 1 : 1;
            if (run > modeCount) {
                modeCount = run;
                mode = scores[i];
            }
        }
        System.out.println("Lowest: " + scores[0] + "  Highest: " + scores[count - 1]);
        System.out.println("Average: " + average);
        System.out.println("Mode: " + mode + " (" + modeCount + " times)");
        System.out.println(aboveAverage + " scores are above the average");
    }
}
