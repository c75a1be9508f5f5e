import java.util.Scanner;

public class Palindromes {
    static boolean check(String s, int i, int j) {
        if (i >= j) return true;
        if (!Character.isLetter(s.charAt(i))) return check(s, i + 1, j);
        if (!Character.isLetter(s.charAt(j))) return check(s, i, j - 1);
        return Character.toUpperCase(s.charAt(i)) == Character.toUpperCase(s.charAt(j)) && check(s, i + 1, j - 1);
    }

    static boolean anagram(String x, String y) {
        int[] tally = new int[26];
        for (char c : x.toLowerCase().toCharArray()) if (c >= 'a' && c <= 'z') tally[c - 'a']++;
        for (char c : y.toLowerCase().toCharArray()) if (c >= 'a' && c <= 'z') tally[c - 'a']--;
        for (int t : tally) if (t != 0) return false;
        return true;
    }

    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        int found = 0, lines = 0;
        while (sc.hasNextLine()) {
            String line = sc.nextLine();
            if (line.contains("|")) {
                String[] pair = line.split("\\|");
                System.out.println(line + " -> " + (anagram(pair[0], pair[1]) ? "anagrams" : "different"));
                continue;
            }
            lines++;
            if (check(line, 0, line.length() - 1)) {
                found++;
                System.out.println("palindrome: " + line);
            }
        }
        System.out.println(found + " of " + lines + " lines are palindromes");
    }
}
