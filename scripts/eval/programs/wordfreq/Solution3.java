import java.util.Scanner;

// Lab 6: word frequencies without collections, using parallel arrays
public class Lab6Words {
    static String[] words = new String[1000];
    static int[] freq = new int[1000];
    static int used = 0;

    static int indexOf(String w) {
        for (int i = 0; i < used; i++)
            if (words[i].equals(w))
                return i;
        return -1;
    }

    static void count(String w) {
        int at = indexOf(w);
        if (at >= 0) {
            freq[at]++;
        } else if (used < words.length) {
            words[used] = w;
            freq[used] = 1;
            used++;
        }
    }

    public static void main(String[] args) {
        Scanner keyboard = new Scanner(System.in);
        System.out.println("Type words, end with STOP");
        String w = keyboard.next();
        while (!w.equals("STOP")) {
            StringBuilder clean = new StringBuilder();
            for (char c : w.toCharArray())
                if (Character.isLetter(c))
                    clean.append(Character.toLowerCase(c));
            if (clean.length() > 0)
                count(clean.toString());
            w = keyboard.next();
        }
        // bubble sort by frequency, highest first
        for (int i = 0; i < used - 1; i++) {
            for (int j = 0; j < used - 1 - i; j++) {
                if (freq[j] < freq[j + 1]) {
                    int t = freq[j]; freq[j] = freq[j + 1]; freq[j + 1] = t;
                    String s = words[j]; words[j] = words[j + 1]; words[j + 1] = s;
                }
            }
        }
        for (int i = 0; i < used; i++)
            System.out.println(words[i] + ": " + freq[i]);
    }
}
