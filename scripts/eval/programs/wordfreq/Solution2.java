import java.util.*;

public class WordCounter {
    private final TreeMap<String, Integer> table = new TreeMap<String, Integer>();

    void addLine(String text) {
        StringTokenizer tok = new StringTokenizer(text, " \t.,;:!?\"()");
        while (tok.hasMoreTokens()) {
            String w = tok.nextToken().toLowerCase();
            Integer old = table.get(w);
            table.put(w, old == null ? 1 : old + 1);
        }
    }

    int total() {
        int sum = 0;
        for (int v : table.values()) sum += v;
        return sum;
    }

    void print() {
        List<String> keys = new ArrayList<String>(table.keySet());
        Collections.sort(keys, (a, b) -> table.get(b) - table.get(a));
        for (int i = 0; i < keys.size(); i++) {
            String k = keys.get(i);
            System.out.println((i + 1) + ". " + k + " = " + table.get(k));
        }
    }

    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        WordCounter wc = new WordCounter();
        System.out.print("How many lines? ");
        int lines = Integer.parseInt(sc.nextLine().trim());
        for (int i = 0; i < lines; i++) {
            System.out.print("Line " + (i + 1) + ": ");
            wc.addLine(sc.nextLine());
        }
        System.out.println("Words counted: " + wc.total());
        wc.print();
    }
}
