import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Scanner;

public class Gradebook {
    record Student(String name, List<Integer> marks) {
        double mean() {
            return marks.stream().mapToInt(Integer::intValue).average().orElse(0);
        }

        String grade() {
            double m = mean();
            return m >= 85 ? "HD" : m >= 75 ? "D" : m >= 65 ? "CR" : m >= 50 ? "P" : "N";
        }
    }

    public static void main(String[] args) {
        Scanner sc = new Scanner(System.in);
        List<Student> roster = new ArrayList<>();
        System.out.println("one student per line: name mark mark mark ... (blank line ends)");
        while (sc.hasNextLine()) {
            String line = sc.nextLine().trim();
            if (line.isEmpty()) break;
            String[] f = line.split("\\s+");
            List<Integer> marks = new ArrayList<>();
            for (int k = 1; k < f.length; k++) marks.add(Integer.parseInt(f[k]));
            roster.add(new Student(f[0], marks));
        }
        roster.sort(Comparator.comparingDouble(Student::mean).reversed());
        int rank = 1;
        for (Student st : roster) {
            System.out.println(rank++ + "  " + st.name() + "  " + String.format("%.1f", st.mean()) + "  " + st.grade());
        }
        long failing = roster.stream().filter(st -> st.grade().equals("N")).count();
        System.out.println(failing + " student(s) failing");
    }
}
