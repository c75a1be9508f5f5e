import java.util.HashMap;
import java.util.Map;
import java.util.Scanner;

/**
 * Counts how often each word occurs in the text typed by the user.
 * The input ends with an empty line.
 */
public class WordFrequency {

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        Map<String, Integer> counts = new HashMap<>();
        int totalWords = 0;

        System.out.println("Enter text (an empty line ends the input):");
        while (input.hasNextLine()) {
            String line = input.nextLine();
            if (line.isEmpty()) {
                break;
            }
            String[] words = line.toLowerCase().split("[^a-z']+");
            for (String word : words) {
                if (word.length() == 0) {
                    continue;
                }
                totalWords++;
                if (counts.containsKey(word)) {
                    counts.put(word, counts.get(word) + 1);
                } else {
                    counts.put(word, 1);
                }
            }
        }

        // find the most frequent word
        String mostCommon = "";
        int best = 0;
        for (Map.Entry<String, Integer> entry : counts.entrySet()) {
            if (entry.getValue() > best) {
                best = entry.getValue();
                mostCommon = entry.getKey();
            }
        }

        System.out.println("Total words: " + totalWords);
        System.out.println("Distinct words: " + counts.size());
        for (String word : counts.keySet()) {
            int n = counts.get(word);
            double percent = 100.0 * n / totalWords;
            System.out.printf("%-15s %5d %6.2f%%%n", word, n, percent);
        }
        if (best > 0) {
            System.out.println("Most common word: " + mostCommon + " (" + best + " times)");
        }
        input.close();
    }
}
