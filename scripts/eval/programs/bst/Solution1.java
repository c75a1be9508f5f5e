import java.util.Scanner;

/** A binary search tree of integers: insert, search and the three traversals. */
public class BinarySearchTree {

    private static class Node {
        int key;
        Node left;
        Node right;

        Node(int key) {
            this.key = key;
        }
    }

    private Node root;
    private int size;

    public void insert(int key) {
        root = insert(root, key);
    }

    private Node insert(Node node, int key) {
        if (node == null) {
            size++;
            return new Node(key);
        }
        if (key < node.key) {
            node.left = insert(node.left, key);
        } else if (key > node.key) {
            node.right = insert(node.right, key);
        }
        return node;
    }

    public boolean contains(int key) {
        Node current = root;
        while (current != null) {
            if (key == current.key) {
                return true;
            }
            current = key < current.key ? current.left : current.right;
        }
        return false;
    }

    private void inorder(Node node) {
        if (node != null) {
            inorder(node.left);
            System.out.print(node.key + " ");
            inorder(node.right);
        }
    }

    private void preorder(Node node) {
        if (node != null) {
            System.out.print(node.key + " ");
            preorder(node.left);
            preorder(node.right);
        }
    }

    private void postorder(Node node) {
        if (node != null) {
            postorder(node.left);
            postorder(node.right);
            System.out.print(node.key + " ");
        }
    }

    private int height(Node node) {
        if (node == null) {
            return 0;
        }
        return 1 + Math.max(height(node.left), height(node.right));
    }

    public static void main(String[] args) {
        Scanner input = new Scanner(System.in);
        BinarySearchTree tree = new BinarySearchTree();
        System.out.println("Enter integers to insert (0 to stop):");
        int value = input.nextInt();
        while (value != 0) {
            tree.insert(value);
            value = input.nextInt();
        }
        System.out.print("In-order: ");
        tree.inorder(tree.root);
        System.out.println();
        System.out.print("Pre-order: ");
        tree.preorder(tree.root);
        System.out.println();
        System.out.print("Post-order: ");
        tree.postorder(tree.root);
        System.out.println();
        System.out.println("Size: " + tree.size + ", height: " + tree.height(tree.root));
        System.out.print("Search for: ");
        int key = input.nextInt();
        System.out.println(tree.contains(key) ? "found" : "not found");
        input.close();
    }
}
