import java.util.Scanner;

/**
 * Leap year checker (Lab 2).
 * Rules: divisible by 4 -> leap, but divisible by 100 -> not leap,
 * unless also divisible by 400 -> leap.
 */
public class LeapYear {

    public static boolean isLeapYear(int year) {
        if (year % 4 == 0) {
            if (year % 100 == 0) {
                if (year % 400 == 0) {
                    return true;
                } else {
                    return false;
                }
            } else {
                return true;
            }
        } else {
            return false;
        }
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        System.out.print("Enter a year: ");
        int year = input.nextInt();

        if (year <= 0) {
            System.out.println("Invalid year.");
        } else if (isLeapYear(year)) {
            System.out.println(year + " is a leap year");
        } else {
            System.out.println(year + " is not a leap year");
        }
        input.close();
    }
}
