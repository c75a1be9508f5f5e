import java.util.Scanner;

public class Grades {
    public static void main(String[] args) {
        Scanner kb = new Scanner(System.in);
        int numA = 0, numB = 0, numC = 0, numD = 0, numF = 0;
        int highest = -1, lowest = 101;
        String topName = "";
        int n = 0;
        double sum = 0;
        System.out.println("Enter name and score for each student; type done to finish");
        while (true) {
            String name = kb.next();
            if (name.equals("done"))
                break;
            int score = kb.nextInt();
            n++;
            sum += score;
            if (score > highest) {
                highest = score;
                topName = name;
            }
            if (score < lowest)
                lowest = score;
            if (score >= 90) numA++;
            else if (score >= 80) numB++;
            else if (score >= 70) numC++;
            else if (score >= 60) numD++;
            else numF++;
        }
        if (n == 0) {
            System.out.println("no students");
        } else {
            System.out.println("Students: " + n + ", average " + (sum / n));
            System.out.println("Highest " + highest + " (" + topName + "), lowest " + lowest);
            System.out.println("A=" + numA + " B=" + numB + " C=" + numC + " D=" + numD + " F=" + numF);
        }
    }
}
