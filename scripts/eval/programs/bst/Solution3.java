import java.util.Scanner;

class TreeNode {
    public int data;
    public TreeNode leftChild, rightChild;

    public TreeNode(int d) {
        data = d;
        leftChild = null;
        rightChild = null;
    }
}

public class BSTDemo {
    static TreeNode add(TreeNode t, int d) {
        if (t == null)
            return new TreeNode(d);
        if (d <= t.data)
            t.leftChild = add(t.leftChild, d);
        else
            t.rightChild = add(t.rightChild, d);
        return t;
    }

    static String walk(TreeNode t) {
        if (t == null)
            return "";
        return walk(t.leftChild) + t.data + " " + walk(t.rightChild);
    }

    static int countLeaves(TreeNode t) {
        if (t == null) return 0;
        if (t.leftChild == null && t.rightChild == null) return 1;
        return countLeaves(t.leftChild) + countLeaves(t.rightChild);
    }

    static int smallest(TreeNode t) {
        while (t.leftChild != null) t = t.leftChild;
        return t.data;
    }

    public static void main(String[] args) {
        Scanner scan = new Scanner(System.in);
        System.out.print("How many numbers? ");
        int n = scan.nextInt();
        TreeNode root = null;
        for (int i = 1; i <= n; i++) {
            System.out.print("number " + i + ": ");
            root = add(root, scan.nextInt());
        }
        System.out.println("sorted: " + walk(root));
        System.out.println("leaves: " + countLeaves(root));
        if (root != null) System.out.println("minimum: " + smallest(root));
    }
}
