import java.time.Year;
import java.util.Scanner;

// Uses java.time.Year which already knows the Gregorian leap year rules.
public class LeapYearApp {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.print("Enter a year: ");
        int year = in.nextInt();

        if (year <= 0) {
            System.out.println("Invalid year.");
        } else {
            String not = Year.isLeap(year) ? "" : "not ";
            System.out.println(year + " is " + not + "a leap year");
        }
    }
}
