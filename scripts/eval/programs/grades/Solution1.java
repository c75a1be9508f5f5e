import java.util.Scanner;

/** Reads students' scores and prints a grade report. */
public class GradeReport {

    public static char letterGrade(double average) {
        if (average >= 90) {
            return 'A';
        } else if (average >= 80) {
            return 'B';
        } else if (average >= 70) {
            return 'C';
        } else if (average >= 60) {
            return 'D';
        } else {
            return 'F';
        }
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Number of students: ");
        int students = input.nextInt();
        System.out.print("Number of exams: ");
        int exams = input.nextInt();

        String[] names = new String[students];
        double[] averages = new double[students];
        int[] gradeCounts = new int[5];
        double classTotal = 0;

        for (int i = 0; i < students; i++) {
            System.out.print("Name of student " + (i + 1) + ": ");
            names[i] = input.next();
            double total = 0;
            for (int j = 0; j < exams; j++) {
                System.out.print("  Score on exam " + (j + 1) + ": ");
                total += input.nextDouble();
            }
            averages[i] = total / exams;
            classTotal += averages[i];
            char grade = letterGrade(averages[i]);
            gradeCounts["ABCDF".indexOf(grade)]++;
        }

        System.out.println();
        System.out.println("Name            Average  Grade");
        int best = 0;
        for (int i = 0; i < students; i++) {
            System.out.printf("%-15s %7.2f  %c%n", names[i], averages[i], letterGrade(averages[i]));
            if (averages[i] > averages[best]) {
                best = i;
            }
        }
        System.out.printf("Class average: %.2f%n", classTotal / students);
        System.out.println("Best student: " + names[best]);
        for (int g = 0; g < 5; g++) {
            System.out.println("ABCDF".charAt(g) + ": " + gradeCounts[g]);
        }
        input.close();
    }
}
