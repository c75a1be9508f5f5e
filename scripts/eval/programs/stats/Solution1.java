import java.util.ArrayList;
import java.util.Collections;
import java.util.Scanner;

/** Reads numbers until a negative one and prints their statistics. */
public class NumberStatistics {

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        ArrayList<Double> numbers = new ArrayList<>();

        System.out.println("Enter numbers, a negative number to finish:");
        double number = input.nextDouble();
        while (number >= 0) {
            numbers.add(number);
            number = input.nextDouble();
        }

        if (numbers.isEmpty()) {
            System.out.println("No numbers were entered.");
            return;
        }

        double sum = 0;
        double min = numbers.get(0);
        double max = numbers.get(0);
        for (double x : numbers) {
            sum += x;
            if (x < min) {
                min = x;
            }
            if (x > max) {
                max = x;
            }
        }
        double mean = sum / numbers.size();

        double squares = 0;
        for (double x : numbers) {
            squares += (x - mean) * (x - mean);
        }
        double deviation = Math.sqrt(squares / numbers.size());

        Collections.sort(numbers);
        double median;
        int middle = numbers.size() / 2;
        if (numbers.size() % 2 == 0) {
            median = (numbers.get(middle - 1) + numbers.get(middle)) / 2;
        } else {
            median = numbers.get(middle);
        }

        System.out.println("Count: " + numbers.size());
        System.out.printf("Sum: %.2f%n", sum);
        System.out.printf("Mean: %.2f%n", mean);
        System.out.printf("Median: %.2f%n", median);
        System.out.printf("Minimum: %.2f, maximum: %.2f%n", min, max);
        System.out.printf("Standard deviation: %.3f%n", deviation);
        input.close();
    }
}
